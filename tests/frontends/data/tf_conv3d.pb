
K
inputPlaceholder*
dtype0*(
shape:ÿÿÿÿÿÿÿÿÿ
Ÿ
Conv3D/ReadVariableOp/resourceConst*
dtype0*è
valueŞBÛ"ÀMú=­>Aå•¾Íè¾ô~¿I¼ø>ät<=«Ò=¬™È¾ãı?˜uñ>Í~y½M¾A 6¾¹rÌ¾Y<+½¾æ•>D8¾Ü95¾µÄD?ÁÈ¹¾x±H¿€;>Ìû„¿£\>Rû>x˜={ö—;/=ƒ¿b(>ÜæJ>¿Çât?¬¿ıòV¿¾Ğg¿ñÀT<vı,>UÇa>rº,¾xĞ¾k¿×>(Èå¾Ü¿P^3?NÕµ=éLq>7 >La’¾¯iˆ¾)ı£>Ÿı¾ç
,>’67½äİ¿ce÷>Ğ	%¿øî=C/	=Q "?áO¿ğ‹¾…mM½ù/¹=5SŞ>PH>k¨K<“ ?è%†?Ø-¿İM<»ÃwÂ>Ø™/=6¢7?¦+¾ßÊ¿ËÙŞ>0w±¿¨–s¾Ùm—?ÌüV<à,7>uœó¾_ò=¼“œ‘½øİm?aJ¿¼À°¿“4P>ëfF?cL°¾iii¿:R	¿×ü]>.ğ¾›“­<á–¿ƒ6…¾ÑËÉ>¾Ñ¿¢¥?Ÿªü>•In¾Ãè½¾‡—#?ÈŒ¾vH§½†f?JX¿=Á§}¾û|¿a‘<SV1½´Ÿ¾§ğì>M%¿²›J¿'ÅÉ¾ÂŞŞ¼ÕC¿·µ¿	Ìà¾f¿:½µ)Å¾ˆè>9s’¿%$>~Æ®¾?>cq?¿§½Ï&S=—ñ½>¸Ü5¿€‘>Eì¸>cê½m¯>ø2—<EÅÚ¾—ò3¿fÓã>

 Conv3D_1/ReadVariableOp/resourceConst*
dtype0*È
value¾B»" sEX?Xwà¾	>FÏ&¿€¾¢`•¾Nş¿HÅ¤½5÷ç>2{s>j¾™¾|+?*Œ=‹Z\?æZ1¿!¼?\×¾è#!¿_:¿¸•Û>Ö¢Ô>A½>‰>À¦¿†İ½T˜¿?ò¾Š ™>aEy¿”¹“?ÔÉ?»Ç¿«¸©>[³}>(ÇÊ½ªˆ>e&¾©h½Ã}}>/ù[>‚=>ş >y!ğ>Í]Ã>nh¿ 7Æ¾ŒY9?…ŒF?Ó)Œ>©r¾	­Ğ>:r­>kjF¿ND=îk3¿&Àk¾N<ù4\?¨t‡¿õz6¾·®>¡Øª>¶ÚÙ>Á`ş¾NS„½öÔl¾ã¶'?K½ïö<·¡Ã=œ'¿T„>
{
	AvgPool3D	AvgPool3Dinput*
T0*
data_formatNDHWC*
ksize	
*
paddingSAME*
strides	

+
out_avgpoolIdentity	AvgPool3D*
T0
r
Conv3D/ReadVariableOpIdentityConv3D/ReadVariableOp/resource*
T0*&
 _has_manual_control_dependencies(
v
Conv3D_1/ReadVariableOpIdentity Conv3D_1/ReadVariableOp/resource*
T0*&
 _has_manual_control_dependencies(
v
Conv3D_2/ReadVariableOpIdentity Conv3D_1/ReadVariableOp/resource*
T0*&
 _has_manual_control_dependencies(
€
NoOpNoOp^Conv3D/ReadVariableOp^Conv3D_1/ReadVariableOp^Conv3D_2/ReadVariableOp*&
 _has_manual_control_dependencies(
1
IdentityIdentityout_avgpool^NoOp*
T0
”
Conv3D_1Conv3DinputConv3D_1/ReadVariableOp*
T0*
data_formatNDHWC*
	dilations	
*
paddingSAME*
strides	

/
out_conv_dilatedIdentityConv3D_1*
T0
8

Identity_1Identityout_conv_dilated^NoOp*
T0

Conv3DConv3DinputConv3D/ReadVariableOp*
T0*
data_formatNDHWC*
	dilations	
*
paddingSAME*
strides	

-
out_conv_same_s2IdentityConv3D*
T0
8

Identity_2Identityout_conv_same_s2^NoOp*
T0
•
Conv3D_2Conv3DinputConv3D_2/ReadVariableOp*
T0*
data_formatNDHWC*
	dilations	
*
paddingVALID*
strides	

-
out_conv_validIdentityConv3D_2*
T0
6

Identity_3Identityout_conv_valid^NoOp*
T0
|
	MaxPool3D	MaxPool3Dinput*
T0*
data_formatNDHWC*
ksize	
*
paddingVALID*
strides	

+
out_maxpoolIdentity	MaxPool3D*
T0
3

Identity_4Identityout_maxpool^NoOp*
T0"í